//go:build !linux

package servetest

import "syscall"

// childAttr has nothing to add where the parent's death cannot be tied to the child's.
func childAttr() *syscall.SysProcAttr { return nil }
