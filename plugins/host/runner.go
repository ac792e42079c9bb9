package host

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-plugin/runner"
)

// pipeGrace is how long go-plugin may keep reading what an exited plugin
// wrote before its pipes are closed under it: a child the plugin left behind
// may hold them open forever.
const pipeGrace = 500 * time.Millisecond

// procRunner starts a plugin process for go-plugin (ClientConfig.RunnerFunc)
// in the sandbox. Unlike go-plugin's own runner it starts it through the
// shim that applies the resource limits, runs it in its own process group
// and kills that whole group when the plugin exits, and tells the pool the
// moment the process exits.
type procRunner struct {
	cmd    *exec.Cmd
	stdout io.ReadCloser
	stderr io.ReadCloser
	pid    int

	watched  chan struct{} // closed once watch is done with the pid
	exited   chan struct{} // closed when the process has exited
	exitOnce sync.Once
	status   string // how it exited; written before exited is closed
}

var _ runner.Runner = (*procRunner)(nil)

// newRunner builds the command for bin in dir, run as id. env is
// go-plugin's handshake environment and nothing else (SkipHostEnv).
func newRunner(sb sandbox, id ident, bin, dir string, env []string) (*procRunner, error) {
	path, args := sb.command(bin, id)
	cmd := exec.Command(path)
	cmd.Args = args
	cmd.Env = env
	cmd.Dir = dir
	cmd.SysProcAttr = sb.procAttr(id)
	// Stdin stays nil (/dev/null): the plugin gets nothing of ours.
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	return &procRunner{cmd: cmd, stdout: stdout, stderr: stderr, watched: make(chan struct{}), exited: make(chan struct{})}, nil
}

func (r *procRunner) Start(context.Context) error {
	if err := r.cmd.Start(); err != nil {
		return err
	}
	r.pid = r.cmd.Process.Pid
	go r.watch()
	return nil
}

// watch notices the exit without reaping the process (go-plugin's Wait
// does), kills what the plugin left in its process group while the
// process's pid still holds the group id, and unblocks go-plugin's pipe
// readers if a leftover child keeps the pipes open.
func (r *procRunner) watch() {
	defer close(r.watched)
	status, ok := waitExit(r.pid)
	if !ok {
		return // not supported here: Wait reports the exit
	}
	killGroup(r.pid)
	r.markExited(status)
	go func() {
		time.Sleep(pipeGrace)
		_ = r.stdout.Close()
		_ = r.stderr.Close()
	}()
}

func (r *procRunner) markExited(status string) {
	r.exitOnce.Do(func() {
		r.status = status
		close(r.exited)
	})
}

// exitStatus says how the process ended; valid once exited is closed.
func (r *procRunner) exitStatus() string { return r.status }

func (r *procRunner) Wait(context.Context) error {
	// Reaping frees the pid, and with it the process group id: the group
	// must be killed first.
	<-r.watched
	err := r.cmd.Wait()
	status := "exit status 0"
	if err != nil {
		status = err.Error()
	}
	r.markExited(status)
	return err
}

func (r *procRunner) Kill(context.Context) error {
	if r.cmd.Process == nil {
		return nil
	}
	select {
	case <-r.exited:
		// watch killed the group already; the pid may be reaped and reused.
	default:
		killGroup(r.pid)
	}
	if err := r.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	return nil
}

func (r *procRunner) Stdout() io.ReadCloser { return r.stdout }
func (r *procRunner) Stderr() io.ReadCloser { return r.stderr }
func (r *procRunner) Name() string          { return r.cmd.Path }

func (r *procRunner) ID() string {
	if r.pid == 0 {
		return ""
	}
	return strconv.Itoa(r.pid)
}

func (r *procRunner) Diagnose(context.Context) string {
	return "the executable did not print a go-plugin handshake on stdout: it is not a partnerhub plugin " +
		"(built with plugins/sdk.Serve), it was built for another OS or architecture, or it failed early (see its log lines)"
}

func (r *procRunner) PluginToHost(network, addr string) (string, string, error) {
	return network, addr, nil
}

func (r *procRunner) HostToPlugin(network, addr string) (string, string, error) {
	return network, addr, nil
}
