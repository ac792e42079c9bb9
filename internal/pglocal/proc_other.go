//go:build !linux

package pglocal

import (
	"context"
	"syscall"
)

// canSwitchUser is false: running Postgres as another user is only
// implemented for Linux, so Start refuses to run as root elsewhere.
const canSwitchUser = false

// sysProcAttr sets nothing: process groups, credentials and the parent-death
// signal are Linux-specific here. Without the death signal a killed parent
// leaves the server running; Stop still works.
func sysProcAttr(*runAs, syscall.Signal) *syscall.SysProcAttr { return nil }

func checkTraversable(string, *runAs) error { return nil }

func processesIn(string, string) []int { return nil }

func runsIn(int, string, string) (yes, known bool) { return false, false }

func lockStart(context.Context, string) (unlock func(), err error) { return func() {}, nil }
