package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// version and revision may be set at build time, for builds without the VCS
// directory (the Docker image: .git is not in its build context):
//
//	-ldflags "-X main.version=v1.2.3 -X main.revision=$(git rev-parse HEAD)"
//
// version then replaces the module version of the build info, and revision
// is used when the build info has no vcs.revision.
var version, revision = "", ""

// versionString is the line "gatehouse version" prints: the module version,
// the VCS revision, commit time and whether the tree had local changes (from
// the build info Go stamps into binaries built inside a checkout), the Go
// version and the platform, e.g.
//
//	gatehouse v1.4.0 (rev 3f2c9e1a7b4d, 2026-12-07T10:11:12Z, modified) go1.26.8 linux/amd64
func versionString() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	return formatVersion(version, revision, bi, runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH)
}

// formatVersion builds versionString's line from its parts; bi may be nil.
func formatVersion(ldflagsVersion, ldflagsRevision string, bi *debug.BuildInfo, goVersion, platform string) string {
	v := ldflagsVersion
	var rev, when string
	modified := false
	if bi != nil {
		if v == "" && bi.Main.Version != "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
				if len(rev) > 12 {
					rev = rev[:12]
				}
			case "vcs.time":
				when = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if rev == "" {
		rev = ldflagsRevision
		if len(rev) > 12 {
			rev = rev[:12]
		}
	}
	if v == "" {
		v = "(devel)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "gatehouse %s", v)
	if rev != "" {
		var parts []string
		parts = append(parts, "rev "+rev)
		if when != "" {
			parts = append(parts, when)
		}
		if modified {
			parts = append(parts, "modified")
		}
		fmt.Fprintf(&b, " (%s)", strings.Join(parts, ", "))
	}
	fmt.Fprintf(&b, " %s %s", goVersion, platform)
	return b.String()
}
