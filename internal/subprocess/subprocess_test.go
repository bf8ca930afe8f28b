package subprocess

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestStartStopStartAgain(t *testing.T) {
	dir := t.TempDir()
	p := &Process{Program: "sh", Args: []string{"-c", "echo up $GREETING; exec sleep 60"}, Dir: dir,
		Env: []string{"GREETING=hello"}, LogPath: filepath.Join(dir, "log")}
	ready := func(context.Context) error {
		if !strings.Contains(p.LogTail(1), "up hello") {
			return errors.New("not up yet")
		}
		return nil
	}
	for round := 1; round <= 2; round++ {
		if err := p.Start(10*time.Second, ready); err != nil {
			t.Fatalf("start %d: %v", round, err)
		}
		if p.PID() == 0 {
			t.Fatalf("start %d: no process", round)
		}
		if err := p.Start(time.Second, ready); err == nil {
			t.Fatalf("start %d: a second Start of a running process succeeded", round)
		}
		p.Stop(os.Kill, time.Second)
		if p.PID() != 0 {
			t.Fatalf("stop %d: still running", round)
		}
	}
	if n := strings.Count(p.LogTail(100), "--- subprocess: start"); n != 2 {
		t.Fatalf("the log marks %d starts, want 2:\n%s", n, p.LogTail(100))
	}
}

func TestStartFailsWhenTheProgramExits(t *testing.T) {
	dir := t.TempDir()
	p := &Process{Program: "sh", Args: []string{"-c", "echo broken; exit 3"}, LogPath: filepath.Join(dir, "log")}
	err := p.Start(10*time.Second, func(context.Context) error { return errors.New("never ready") })
	if err == nil || !strings.Contains(err.Error(), "exited at start") {
		t.Fatalf("Start of a program that exits: %v", err)
	}
	if p.PID() != 0 || !strings.Contains(p.LogTail(5), "broken") {
		t.Fatalf("after the failed start: pid %d, log %q", p.PID(), p.LogTail(5))
	}
	if err := p.Run(); err == nil {
		t.Fatal("Run of a program that exits with 3 succeeded")
	}
}
