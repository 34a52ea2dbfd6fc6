//go:build !linux

package testenv

import "syscall"

// childProcAttr has nothing to add outside Linux (no Pdeathsig).
func childProcAttr() *syscall.SysProcAttr { return nil }
