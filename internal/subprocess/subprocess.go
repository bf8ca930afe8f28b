// Package subprocess runs the server processes of tests (the serve binary, private database servers):
// started again and again with their output appended to one log, waited for until they answer, and
// stopped with a signal of the test's choosing (a crash, when that is SIGKILL). A process dies with the
// test binary, even when that is killed outright and cannot clean up.
package subprocess

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// User is a user id and group id to run a program as.
type User struct{ UID, GID uint32 }

// Process is a server program that a test starts and stops.
type Process struct {
	// Program and Args are what is started, in Dir, with Env added to the test's environment.
	Program string
	Args    []string
	Dir     string
	Env     []string
	// User, when set, runs the program as another user (a test running as root starts database
	// servers that refuse to run as root). Only on Linux.
	User *User
	// LogPath is the file the program's output is appended to.
	LogPath string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan error
	log    *os.File
	starts int
}

// Start starts the program and waits until ready returns nil, calling it every 20 ms with a context
// of at most 2 s, for at most timeout. It fails when the program is running already, exits first, or
// is not ready in time; the program is then stopped.
func (p *Process) Start(timeout time.Duration, ready func(context.Context) error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return fmt.Errorf("%s is running already", p.Program)
	}
	p.starts++
	cmd, log, err := p.command(fmt.Sprintf("start %d", p.starts))
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		log.Close()
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	p.cmd, p.exited, p.log = cmd, exited, log

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		attempt, cancelAttempt := context.WithTimeout(ctx, 2*time.Second)
		err := ready(attempt)
		cancelAttempt()
		if err == nil {
			return nil
		}
		select {
		case werr := <-exited:
			p.forget()
			return fmt.Errorf("%s exited at start (%v)", p.Program, werr)
		case <-ctx.Done():
			p.stop(os.Kill, 0)
			return fmt.Errorf("%s was not ready within %s: %w", p.Program, timeout, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Run runs the program to its end (a setup step), and returns its failure.
func (p *Process) Run() error {
	cmd, log, err := p.command("run")
	if err != nil {
		return err
	}
	defer log.Close()
	return cmd.Run()
}

// command prepares the program, its output appended to the log after a line that names what is done.
func (p *Process) command(what string) (*exec.Cmd, *os.File, error) {
	log, err := os.OpenFile(p.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(log, "--- subprocess: %s at %s\n", what, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(p.Program, p.Args...)
	cmd.Dir = p.Dir
	cmd.Env = append(os.Environ(), p.Env...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = procAttr(p.User)
	return cmd, log, nil
}

// Stop sends sig and waits until the program has exited; after grace it kills it. It does nothing
// when the program is not running.
func (p *Process) Stop(sig os.Signal, grace time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stop(sig, grace)
}

// stop is Stop with p.mu held.
func (p *Process) stop(sig os.Signal, grace time.Duration) {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.exited:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
	p.forget()
}

// forget drops the exited program; p.mu is held.
func (p *Process) forget() {
	p.log.Close()
	p.cmd, p.exited, p.log = nil, nil, nil
}

// PID is the running program's process id, 0 when it is not running.
func (p *Process) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// LogTail returns the last n lines of the log (every start appends to it).
func (p *Process) LogTail(n int) string {
	data, err := os.ReadFile(p.LogPath)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "(no log)"
		}
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
