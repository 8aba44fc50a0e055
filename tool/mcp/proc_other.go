//go:build !unix

package mcp

import (
	"os"
	"os/exec"
)

// setGroup does nothing where processes have no groups.
func setGroup(*exec.Cmd) {}

// terminateGroup kills p: other systems have no signal to ask politely.
func terminateGroup(p *os.Process) { _ = p.Kill() }

// killGroup kills p.
func killGroup(p *os.Process) { _ = p.Kill() }
