//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package upstream

import "syscall"

// FastPathSupported: without a way to peek at an idle socket, every request goes
// through http.Transport.
const FastPathSupported = false

func connQuiet(syscall.RawConn) bool { return false }
