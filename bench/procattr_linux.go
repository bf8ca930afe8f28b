package main

import "syscall"

// childAttr makes a subprocess die with the benchmark, even when the benchmark is killed outright and
// cannot clean up.
func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }
