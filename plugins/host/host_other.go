//go:build !linux

package host

import "syscall"

// sandbox is empty off Linux: no parent-death signal, no user switch, no
// resource limits (Limits are ignored). Production runs on Linux; this
// keeps development elsewhere possible.
type sandbox struct{}

func newSandbox(string, Limits) (sandbox, error) { return sandbox{}, nil }

func (sandbox) procAttr() *syscall.SysProcAttr { return nil }

func (sandbox) command(bin string) (string, []string) { return bin, []string{bin} }

// SandboxMain does nothing off Linux; see the Linux version.
func SandboxMain() {}

func (sandbox) own(string) error { return nil }

func (sandbox) checkReachable(string) error { return nil }

func isBusy(error) bool { return false }

// waitExit is not available: procRunner.Wait reports the exit.
func waitExit(int) (string, bool) { return "", false }

func killGroup(int) {}
