//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package proxy

import "syscall"

// h1Supported: without a way to peek at an idle socket, every request goes
// through http.Transport.
const h1Supported = false

func connQuiet(syscall.RawConn) bool { return false }
