package testenv

import "syscall"

// childProcAttr makes the kernel SIGKILL the child when the test binary
// dies (a panic, a -timeout, a kill) before t.Cleanup could stop it.
//
// Pdeathsig fires when the OS thread that started the child exits; the Go
// runtime only ends threads whose goroutine exits while locked with
// runtime.LockOSThread, which nothing in the tests that use testenv does.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
