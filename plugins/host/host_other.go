//go:build !linux

package host

import "syscall"

// sandbox is empty off Linux: no parent-death signal, no user switch, no
// resource limits (Limits are ignored). Production runs on Linux; this
// keeps development elsewhere possible.
type sandbox struct{}

// ident is the user a plugin runs as: always the host's own here.
type ident struct{}

func (ident) String() string { return "the host's user" }

func newSandbox(string, uidRange, Limits) (sandbox, error) { return sandbox{}, nil }

func (sandbox) identFor(Key) (ident, error) { return ident{}, nil }

func (sandbox) procAttr(ident) *syscall.SysProcAttr { return nil }

func (sandbox) command(bin string, _ ident) (string, []string) { return bin, []string{bin} }

// SandboxMain does nothing off Linux; see the Linux version.
func SandboxMain() {}

func (sandbox) own(string, ident) error { return nil }

func (sandbox) adopt(string, ident) ([]string, error) { return nil, nil }

func ownedBy(string, ident) bool { return true }

func (sandbox) checkReachable(string) error { return nil }

func isBusy(error) bool { return false }

// waitExit is not available: procRunner.Wait reports the exit.
func waitExit(int) (string, bool) { return "", false }

func killGroup(int) {}
