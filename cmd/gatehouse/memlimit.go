package main

import (
	"bufio"
	"bytes"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path"
	"runtime/debug"
	"strconv"
	"strings"
)

// memLimitShare is the part of a container's memory limit that gatehouse
// gives the Go runtime as its soft limit (GOMEMLIMIT). The rest is for what
// the runtime does not count: the binary's text, thread stacks, and memory
// freed but not yet returned to the kernel.
const memLimitShare = 0.9

// memoryLimit says where the Go runtime's soft memory limit came from.
type memoryLimit struct {
	bytes  int64  // the runtime's limit; math.MaxInt64 means none
	source string // "GOMEMLIMIT", "cgroup", or "" for none
	cgroup int64  // the cgroup's limit, when source is "cgroup"
}

// tuneMemory sets the GC target (GOGC, unless $GOGC is set) and the soft
// memory limit: $GOMEMLIMIT when set (the runtime reads it itself), else
// memLimitShare of the memory limit of the process's cgroup (a container's
// --memory, systemd's MemoryMax=), else none. sys is the root of the file
// system (os.DirFS("/")), where /proc/self and /sys/fs/cgroup are read.
func tuneMemory(sys fs.FS, lookupEnv func(string) (string, bool)) memoryLimit {
	if _, set := lookupEnv("GOGC"); !set {
		debug.SetGCPercent(defaultGOGC)
	}
	if _, set := lookupEnv("GOMEMLIMIT"); set {
		return memoryLimit{bytes: debug.SetMemoryLimit(-1), source: "GOMEMLIMIT"}
	}
	limit, ok := cgroupMemoryLimit(sys)
	if !ok {
		return memoryLimit{bytes: math.MaxInt64}
	}
	soft := int64(float64(limit) * memLimitShare)
	debug.SetMemoryLimit(soft)
	return memoryLimit{bytes: soft, source: "cgroup", cgroup: limit}
}

// unlimited is the smallest value cgroup v1 uses for "no limit" (the
// largest multiple of the page size below 2^63, shown as
// 9223372036854771712); anything from 2^62 up is treated as none.
const unlimited = 1 << 62

// cgroupMemoryLimit is the tightest memory limit on the cgroups of this
// process, in cgroup v2 (memory.max) or v1 (memory.limit_in_bytes),
// including the limits of the parent cgroups up to the mount's root (a
// limit set on a parent applies to its children). ok is false when there
// is none, or nothing could be read: gatehouse then runs without a limit,
// as before.
func cgroupMemoryLimit(sys fs.FS) (limit int64, ok bool) {
	cg, err := fs.ReadFile(sys, "proc/self/cgroup")
	if err != nil {
		return 0, false
	}
	mi, err := fs.ReadFile(sys, "proc/self/mountinfo")
	if err != nil {
		return 0, false
	}
	mounts := parseMountinfo(mi)
	limit = math.MaxInt64
	for _, line := range strings.Split(string(cg), "\n") {
		// hierarchy-ID:controller-list:cgroup-path
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		var file string
		var mount *cgroupMount
		switch {
		case parts[0] == "0" && parts[1] == "":
			file, mount = "memory.max", mounts.find(func(m cgroupMount) bool { return m.v2 })
		case hasController(parts[1], "memory"):
			file, mount = "memory.limit_in_bytes", mounts.find(func(m cgroupMount) bool { return !m.v2 && m.memory })
		default:
			continue
		}
		if mount == nil {
			continue
		}
		if l, found := mount.limit(sys, parts[2], file); found && l < limit {
			limit, ok = l, true
		}
	}
	return limit, ok
}

func hasController(list, name string) bool {
	for c := range strings.SplitSeq(list, ",") {
		if c == name {
			return true
		}
	}
	return false
}

// cgroupMount is one cgroup file system from /proc/self/mountinfo.
type cgroupMount struct {
	root, point string // the mount's root in the hierarchy, and where it is mounted
	v2, memory  bool   // cgroup2; a v1 hierarchy with the memory controller
}

type cgroupMounts []cgroupMount

func (ms cgroupMounts) find(match func(cgroupMount) bool) *cgroupMount {
	for i := range ms {
		if match(ms[i]) {
			return &ms[i]
		}
	}
	return nil
}

// parseMountinfo returns the cgroup mounts of a mountinfo file (proc(5)):
// "id parent major:minor root mount-point options [optional...] - fstype
// source super-options".
func parseMountinfo(b []byte) cgroupMounts {
	var ms cgroupMounts
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		sep := -1
		for i, f := range fields {
			if f == "-" {
				sep = i
				break
			}
		}
		if sep < 5 || sep+3 > len(fields) {
			continue
		}
		m := cgroupMount{root: fields[3], point: fields[4]}
		switch fields[sep+1] {
		case "cgroup2":
			m.v2 = true
		case "cgroup":
			m.memory = hasController(fields[sep+3], "memory")
		default:
			continue
		}
		ms = append(ms, m)
	}
	return ms
}

// limit reads file in the directory of cgroup path p and in each parent up
// to the mount point, and returns the smallest limit found.
func (m cgroupMount) limit(sys fs.FS, p, file string) (int64, bool) {
	root := path.Clean(m.root)
	rel, inside := strings.CutPrefix(path.Clean(p), root)
	if root != "/" && rel != "" && !strings.HasPrefix(rel, "/") {
		inside = false // "/ab" is not below "/a"
	}
	if !inside {
		// The process's cgroup is not below what is mounted (a cgroup
		// namespace shows "/" here): read from the mount point itself.
		rel = ""
	}
	dir := strings.TrimPrefix(path.Join(m.point, rel), "/")
	top := strings.TrimPrefix(path.Clean(m.point), "/")
	best, ok := int64(math.MaxInt64), false
	for {
		if b, err := fs.ReadFile(sys, path.Join(dir, file)); err == nil {
			s := strings.TrimSpace(string(b))
			if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 && n < unlimited && n < best {
				best, ok = n, true
			}
		}
		if dir == top || !strings.HasPrefix(dir, top+"/") {
			return best, ok
		}
		dir = path.Dir(dir)
	}
}

// logMemorySettings logs the GC settings the process runs with, once at
// start: an operator sizing a container sees which limit the runtime
// honours.
func logMemorySettings(logger *slog.Logger) {
	limit := debug.SetMemoryLimit(-1) // -1 reads without changing
	gogc, set := os.LookupEnv("GOGC")
	if !set {
		gogc = strconv.Itoa(defaultGOGC)
	}
	attrs := []any{"gogc", gogc}
	switch _, env := os.LookupEnv("GOMEMLIMIT"); {
	case env:
		attrs = append(attrs, "memory_limit_bytes", limit, "memory_limit_source", "GOMEMLIMIT")
	case limit != math.MaxInt64:
		attrs = append(attrs, "memory_limit_bytes", limit, "memory_limit_source", "cgroup")
	default:
		attrs = append(attrs, "memory_limit_source", "none")
	}
	logger.Info("memory settings", attrs...)
}

// rootFS is the file system tuneMemory reads /proc and /sys from.
func rootFS() fs.FS { return os.DirFS("/") }
