//go:build aix || darwin || dragonfly || freebsd || linux || netbsd || openbsd || solaris

package config

import "syscall"

// writableDir reports whether this process may create files in dir
// (write and search permission), without creating anything.
func writableDir(dir string) error {
	const wOK, xOK = 0x2, 0x1 // POSIX access(2) modes
	return syscall.Access(dir, wOK|xOK)
}
