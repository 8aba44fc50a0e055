package main

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/mattn/go-isatty"
)

// readTask returns the task of `newsroom run`: the arguments joined by
// spaces; standard input for "-" or when there are no arguments and stdin
// is piped or redirected from a file; or the file of --task-file. A task
// longer than maxBytes is a usage error, as the service refuses it.
func readTask(stdin io.Reader, args []string, taskFile string, maxBytes int) (string, error) {
	var task string
	switch {
	case taskFile != "" && len(args) > 0:
		return "", usageErrorf("give the task as arguments or with --task-file, not both")
	case taskFile != "":
		f, err := os.Open(taskFile)
		if err != nil {
			return "", usageErrorf("--task-file: %v", err)
		}
		defer f.Close()
		if task, err = readLimited(f, maxBytes, "--task-file "+taskFile); err != nil {
			return "", err
		}
	case len(args) == 1 && args[0] == "-", len(args) == 0 && isPiped(stdin):
		var err error
		if task, err = readLimited(stdin, maxBytes, "standard input"); err != nil {
			return "", err
		}
	default:
		task = strings.Join(args, " ")
	}
	task = strings.TrimSpace(task)
	switch {
	case task == "":
		return "", usageErrorf("run needs a TASK, e.g. newsroom run \"Write a short article about ...\" (or --task-file FILE, or - to read standard input)")
	case len(task) > maxBytes:
		return "", tooLong(len(task), maxBytes, false, "the task")
	}
	return task, nil
}

// readLimited reads r up to maxBytes (after trimming, a task may be a little
// shorter than what was read, so one byte more is read to tell).
func readLimited(r io.Reader, maxBytes int, what string) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r, int64(maxBytes)+4096))
	if err != nil {
		return "", fmt.Errorf("%w: reading the task from %s: %w", errUsage, what, err)
	}
	if t := strings.TrimSpace(string(b)); len(t) > maxBytes {
		return "", tooLong(len(t), maxBytes, len(b) == maxBytes+4096, "the task from "+what)
	}
	return string(b), nil
}

func tooLong(n, maxBytes int, truncated bool, what string) error {
	more := ""
	if truncated {
		more = " at least"
	}
	return usageErrorf("%s is%s %d bytes, longer than the limit of %d bytes (raise it with --max-task-bytes)", what, more, n, maxBytes)
}

// isPiped reports whether r is a pipe or a regular file rather than a
// terminal or /dev/null.
func isPiped(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return r != nil // a reader given by a caller (tests) holds the input
	}
	st, err := f.Stat()
	if err != nil {
		return false
	}
	m := st.Mode()
	return m&fs.ModeNamedPipe != 0 || m.IsRegular()
}

// isTerminal reports whether w is a terminal that can take the console's
// live status line (not TERM=dumb).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && os.Getenv("TERM") != "dumb" && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}
