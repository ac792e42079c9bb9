//go:build !linux

package host

import "syscall"

// sandbox is empty off Linux: no parent-death signal, no user switch.
type sandbox struct{}

func newSandbox(string) (sandbox, error) { return sandbox{}, nil }

func (sandbox) procAttr() *syscall.SysProcAttr { return nil }

func (sandbox) own(string) error { return nil }

func (sandbox) checkReachable(string) error { return nil }

func isBusy(error) bool { return false }

func removeStaleSocket(string) {}
