package subprocess

import "syscall"

// procAttr runs the program as u (when set) and has the kernel kill it when the test binary dies.
// Go sets the parent-death signal after switching users, which would otherwise clear it.
func procAttr(u *User) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if u != nil {
		a.Credential = &syscall.Credential{Uid: u.UID, Gid: u.GID}
	}
	return a
}
