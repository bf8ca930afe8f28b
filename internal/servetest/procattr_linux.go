package servetest

import "syscall"

// childAttr makes the service die with the test binary, even when the binary is killed outright (a
// test timeout) and cannot clean up.
func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }
