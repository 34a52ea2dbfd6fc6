//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package upstream

import "syscall"

// FastPathSupported: HTTP1Transport can check idle connections on this system.
const FastPathSupported = true

// connQuiet reports whether an idle connection is still open and has
// nothing to read: a peek that would block. Bytes (an unsolicited
// response) or the end of the stream (the upstream closed it) make it
// unusable. One non-blocking system call.
func connQuiet(rc syscall.RawConn) bool {
	var buf [1]byte
	var errno error
	err := rc.Read(func(fd uintptr) bool {
		_, _, errno = syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK)
		return true // never wait: the socket is non-blocking
	})
	return err == nil && (errno == syscall.EAGAIN || errno == syscall.EWOULDBLOCK)
}
