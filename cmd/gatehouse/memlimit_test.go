package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// Mount tables as the kernel writes them (proc(5)), one per layout.
const (
	mountsV2 = "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n"
	mountsV1 = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n" +
		"32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n" +
		"35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n" +
		"41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
	// A container with a v1 hierarchy whose root is the container's own
	// cgroup (no cgroup namespace).
	mountsDockerV1 = "35 31 0:32 /docker/abc /sys/fs/cgroup/memory ro,nosuid - cgroup cgroup rw,memory\n"
)

func TestCgroupMemoryLimit(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	tests := []struct {
		name  string
		files fstest.MapFS
		want  int64 // 0: none
	}{
		{"v2 leaf", fstest.MapFS{
			"proc/self/cgroup":    file("0::/system.slice/gatehouse.service\n"),
			"proc/self/mountinfo": file(mountsV2),
			"sys/fs/cgroup/system.slice/gatehouse.service/memory.max": file("268435456\n"),
			"sys/fs/cgroup/system.slice/memory.max":                   file("max\n"),
		}, 256 << 20},
		{"v2 parent is tighter", fstest.MapFS{
			"proc/self/cgroup":    file("0::/system.slice/gatehouse.service\n"),
			"proc/self/mountinfo": file(mountsV2),
			"sys/fs/cgroup/system.slice/gatehouse.service/memory.max": file("max\n"),
			"sys/fs/cgroup/system.slice/memory.max":                   file("134217728\n"),
		}, 128 << 20},
		{"v2 unlimited", fstest.MapFS{
			"proc/self/cgroup":                    file("0::/user.slice\n"),
			"proc/self/mountinfo":                 file(mountsV2),
			"sys/fs/cgroup/user.slice/memory.max": file("max\n"),
		}, 0},
		{"v2 cgroup namespace", fstest.MapFS{
			"proc/self/cgroup":         file("0::/\n"),
			"proc/self/mountinfo":      file(mountsV2),
			"sys/fs/cgroup/memory.max": file("536870912\n"),
			"sys/fs/cgroup/cpu.max":    file("max 100000\n"),
		}, 512 << 20},
		{"v1 hybrid, this machine's layout, unlimited", fstest.MapFS{
			"proc/self/cgroup":    file("4:memory:/process_api/9290\n1:cpu:/\n0::/\n"),
			"proc/self/mountinfo": file(mountsV1),
			"sys/fs/cgroup/memory/process_api/9290/memory.limit_in_bytes": file("9223372036854771712\n"),
			"sys/fs/cgroup/memory/process_api/memory.limit_in_bytes":      file("9223372036854771712\n"),
			"sys/fs/cgroup/memory/memory.limit_in_bytes":                  file("9223372036854771712\n"),
		}, 0},
		{"v1 limited", fstest.MapFS{
			"proc/self/cgroup":    file("4:memory:/process_api/9290\n0::/\n"),
			"proc/self/mountinfo": file(mountsV1),
			"sys/fs/cgroup/memory/process_api/9290/memory.limit_in_bytes": file("314572800\n"),
		}, 300 << 20},
		{"v1 container root", fstest.MapFS{
			"proc/self/cgroup":                           file("9:memory:/docker/abc\n"),
			"proc/self/mountinfo":                        file(mountsDockerV1),
			"sys/fs/cgroup/memory/memory.limit_in_bytes": file("1073741824\n"),
		}, 1 << 30},
		{"not below the mount root", fstest.MapFS{
			"proc/self/cgroup":                           file("9:memory:/dockerx\n"),
			"proc/self/mountinfo":                        file(mountsDockerV1),
			"sys/fs/cgroup/memory/memory.limit_in_bytes": file("1073741824\n"),
		}, 1 << 30},
		{"garbage in the limit file", fstest.MapFS{
			"proc/self/cgroup":           file("0::/a\n"),
			"proc/self/mountinfo":        file(mountsV2),
			"sys/fs/cgroup/a/memory.max": file("lots\n"),
		}, 0},
		{"no /proc", fstest.MapFS{}, 0},
		{"no cgroup mounts", fstest.MapFS{
			"proc/self/cgroup":    file("0::/a\n"),
			"proc/self/mountinfo": file("22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"),
		}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := cgroupMemoryLimit(tc.files)
			if tc.want == 0 {
				if ok {
					t.Fatalf("limit %d, want none", got)
				}
				return
			}
			if !ok || got != tc.want {
				t.Fatalf("limit %d (ok %v), want %d", got, ok, tc.want)
			}
		})
	}
}

func TestTuneMemory(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))
	limited := fstest.MapFS{
		"proc/self/cgroup":         {Data: []byte("0::/\n")},
		"proc/self/mountinfo":      {Data: []byte(mountsV2)},
		"sys/fs/cgroup/memory.max": {Data: []byte("1000000000\n")},
	}
	env := func(vars ...string) func(string) (string, bool) {
		return func(k string) (string, bool) {
			for i := 0; i+1 < len(vars); i += 2 {
				if vars[i] == k {
					return vars[i+1], true
				}
			}
			return "", false
		}
	}

	got := tuneMemory(limited, env())
	if got.source != "cgroup" || got.cgroup != 1e9 || got.bytes != 9e8 {
		t.Fatalf("cgroup: %+v, want 90%% of 1e9 from the cgroup", got)
	}
	if l := debug.SetMemoryLimit(-1); l != 9e8 {
		t.Fatalf("runtime limit %d, want 9e8", l)
	}
	if p := debug.SetGCPercent(100); p != defaultGOGC {
		t.Fatalf("GOGC %d, want %d", p, defaultGOGC)
	}

	debug.SetMemoryLimit(math.MaxInt64)
	got = tuneMemory(limited, env("GOMEMLIMIT", "123MiB", "GOGC", "50"))
	if got.source != "GOMEMLIMIT" {
		t.Fatalf("with $GOMEMLIMIT: %+v, want it left to the runtime", got)
	}
	if l := debug.SetMemoryLimit(-1); l != math.MaxInt64 {
		t.Fatalf("with $GOMEMLIMIT the cgroup's limit was applied: %d", l)
	}
	if p := debug.SetGCPercent(100); p != 100 {
		t.Fatalf("with $GOGC the GC target was changed to %d", p)
	}

	got = tuneMemory(fstest.MapFS{}, env())
	if got.source != "" || got.bytes != math.MaxInt64 {
		t.Fatalf("no cgroup: %+v, want no limit", got)
	}
}

// TestRun_MemoryLimitFromRealCgroup runs the binary inside a real cgroup
// v1 memory hierarchy with a 300 MiB limit and checks that it takes 90% of
// it as its soft limit. It needs to create cgroups (root, v1 memory
// controller mounted writable); elsewhere it skips: the parsing is covered
// by TestCgroupMemoryLimit.
func TestRun_MemoryLimitFromRealCgroup(t *testing.T) {
	parent := ownMemoryCgroupV1(t)
	dir := filepath.Join(parent, fmt.Sprintf("gatehouse-test-%d", os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Skipf("cannot create a memory cgroup here: %v", err)
	}
	t.Cleanup(func() { _ = os.Remove(dir) }) // after the process has exited (Cleanup order: LIFO)
	const limit = 300 << 20
	if err := os.WriteFile(filepath.Join(dir, "memory.limit_in_bytes"), []byte(fmt.Sprint(limit)), 0o644); err != nil {
		t.Skipf("cannot set a memory limit here: %v", err)
	}

	cfgDir := t.TempDir()
	cfg := filepath.Join(cfgDir, "gatehouse.hcl")
	writeFile(t, cfg, `
server {
  listen       = "127.0.0.1:0"
  admin_listen = "127.0.0.1:0"
}
upstream "a" {
  url    = "http://127.0.0.1:9"
  prefix = "/a"
  public = true
}
`)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The shell moves itself into the cgroup, then becomes gatehouse.
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", `echo $$ > "$1/cgroup.procs" && exec "$2" run --config "$3"`,
		"sh", dir, binPath, cfg)
	cmd.Env = withoutEnv(os.Environ(), "GOMEMLIMIT", "GOGC")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) != nil || line["msg"] != "memory settings" {
			continue
		}
		if line["memory_limit_source"] != "cgroup" || line["memory_limit_bytes"] != float64(limit*9/10) || line["gogc"] != "400" {
			t.Fatalf("memory settings %v, want 90%% of %d from the cgroup and gogc 400", line, limit)
		}
		return
	}
	t.Fatalf("gatehouse logged no memory settings: %v", sc.Err())
}

// ownMemoryCgroupV1 is the directory of this process's cgroup in a v1
// memory hierarchy mounted at /sys/fs/cgroup/memory, or skips.
func ownMemoryCgroupV1(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Skip(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 && hasController(parts[1], "memory") {
			d := filepath.Join("/sys/fs/cgroup/memory", parts[2])
			if _, err := os.Stat(filepath.Join(d, "cgroup.procs")); err != nil {
				t.Skipf("no v1 memory cgroup directory: %v", err)
			}
			return d
		}
	}
	t.Skip("no v1 memory hierarchy")
	return ""
}

func withoutEnv(env []string, names ...string) []string {
	var out []string
next:
	for _, kv := range env {
		for _, n := range names {
			if strings.HasPrefix(kv, n+"=") {
				continue next
			}
		}
		out = append(out, kv)
	}
	return out
}
