//go:build !linux

package subprocess

import "syscall"

// procAttr has nothing to add where the parent's death cannot be tied to the child's; a User is
// not supported there.
func procAttr(*User) *syscall.SysProcAttr { return nil }
