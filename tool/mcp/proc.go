package mcp

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"time"
)

// How long a server process is given to end after its input closes, and
// again after it is asked to terminate, before it is killed.
const stopGrace = 2 * time.Second

// drainGrace bounds the wait for a dead process's stderr to be read to its
// end (a descendant that escaped the kill may hold it open).
const drainGrace = time.Second

// process is one run of a server's command. Its standard input and output
// carry the protocol; its standard error goes, line by line, to the DEBUG
// log and to a tail quoted when it dies. It runs in a process group of its
// own where the system has them, so that stopping it stops what it started.
type process struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser // the protocol, to the server
	stdout io.ReadCloser  // the protocol, from the server
	stderr *tail
	// exited is closed once the process has ended and its stderr was read
	// (or drainGrace passed); exitErr then says how it ended.
	exited  chan struct{}
	exitErr error
}

// startProcess starts spec's command. Its stderr lines are redacted by red
// and logged on log at DEBUG with the server's name.
func startProcess(spec Spec, red *redactor, log *slog.Logger) (*process, error) {
	cmd := exec.Command(spec.Command, spec.Args...)
	cmd.Env = append(os.Environ(), spec.Env...)
	setGroup(cmd)
	// Three pipes: the child's ends are closed here once it started (or
	// failed to), ours when the session and the stderr reader are done.
	var ends [6]*os.File // stdin r, w; stdout r, w; stderr r, w
	for i := 0; i < 6; i += 2 {
		r, w, err := os.Pipe()
		if err != nil {
			closeAll(ends[:i]...)
			return nil, err
		}
		ends[i], ends[i+1] = r, w
	}
	inR, inW, outR, outW, errR, errW := ends[0], ends[1], ends[2], ends[3], ends[4], ends[5]
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, errW
	err := cmd.Start()
	closeAll(inR, outW, errW)
	if err != nil {
		closeAll(inW, outR, errR)
		return nil, err
	}
	p := &process{cmd: cmd, stdin: inW, stdout: outR, stderr: &tail{}, exited: make(chan struct{})}
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		defer errR.Close()
		readLines(errR, func(line string) {
			if line == "" {
				return
			}
			line = red.text(line)
			p.stderr.add(line)
			log.Debug("mcp server stderr", "server", spec.Name, "pid", cmd.Process.Pid, "line", line)
		})
	}()
	go func() {
		err := cmd.Wait()
		// What the process started goes with it: nothing is left holding
		// the pipes, nothing runs unwatched.
		killGroup(cmd.Process)
		select {
		case <-drained:
		case <-time.After(drainGrace):
		}
		p.exitErr = err
		close(p.exited)
	}()
	return p, nil
}

// pid is the process's id.
func (p *process) pid() int { return p.cmd.Process.Pid }

// dead reports whether the process has ended.
func (p *process) dead() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// how says how the process ended ("exited with status 3", "was killed by
// signal: killed"); call it once exited is closed.
func (p *process) how() string {
	var ee *exec.ExitError
	switch {
	case p.exitErr == nil:
		return "exited with status 0"
	case errors.As(p.exitErr, &ee) && ee.Exited():
		return fmt.Sprintf("exited with status %d", ee.ExitCode())
	case errors.As(p.exitErr, &ee):
		return "ended by " + ee.String()
	default:
		return "ended: " + p.exitErr.Error()
	}
}

// stop ends the process: its input is closed by the session before, so it
// is given stopGrace to exit, then asked to terminate, then killed (with
// what it started). It returns once the process has ended.
func (p *process) stop() {
	wait := func() bool {
		select {
		case <-p.exited:
			return true
		case <-time.After(stopGrace):
			return false
		}
	}
	if wait() {
		return
	}
	terminateGroup(p.cmd.Process)
	if wait() {
		return
	}
	killGroup(p.cmd.Process)
	_ = p.cmd.Process.Kill()
	<-p.exited
}

func closeAll(files ...*os.File) {
	for _, f := range files {
		_ = f.Close()
	}
}
