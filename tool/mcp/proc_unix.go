//go:build unix

package mcp

import (
	"os"
	"os/exec"
	"syscall"
)

// setGroup starts cmd in a process group of its own, whose id is its pid,
// so that a server started through a wrapper (npx, uvx, a shell script)
// stops with what the wrapper started.
func setGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// terminateGroup asks p's process group to terminate.
func terminateGroup(p *os.Process) { _ = syscall.Kill(-p.Pid, syscall.SIGTERM) }

// killGroup kills p's process group.
func killGroup(p *os.Process) { _ = syscall.Kill(-p.Pid, syscall.SIGKILL) }
