package mcp

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"sync"
)

// The bounds of the stderr kept for each server process: the last lines
// say why it died; older ones went to the DEBUG log.
const (
	tailLines   = 50
	tailBytes   = 8 << 10
	maxLineLen  = 1 << 10 // a longer line is cut, its rest dropped
	errTailSize = 5       // lines quoted in an error
)

// tail keeps the last lines a server process wrote to its standard error,
// at most tailLines lines and tailBytes bytes, already redacted.
type tail struct {
	mu    sync.Mutex
	lines []string
	size  int
}

func (t *tail) add(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, line)
	t.size += len(line)
	for len(t.lines) > tailLines || t.size > tailBytes {
		t.size -= len(t.lines[0])
		t.lines = t.lines[1:]
	}
}

// last returns the last n lines, oldest first.
func (t *tail) last(n int) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n > len(t.lines) {
		n = len(t.lines)
	}
	return append([]string(nil), t.lines[len(t.lines)-n:]...)
}

// quote formats the last lines for an error: "" when there are none.
func (t *tail) quote() string {
	if t == nil {
		return ""
	}
	lines := t.last(errTailSize)
	if len(lines) == 0 {
		return ""
	}
	return "; its last stderr lines: " + strings.Join(lines, " | ")
}

// readLines calls fn with each line of r (without its line ending, cut to
// maxLineLen bytes) until r ends.
func readLines(r io.Reader, fn func(string)) {
	br := bufio.NewReaderSize(r, maxLineLen)
	var cut bool // the current line was cut; drop what is left of it
	for {
		b, err := br.ReadSlice('\n')
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			if !cut {
				fn(string(bytes.TrimRight(b, "\r")) + "…")
			}
			cut = true
			continue
		case len(b) > 0 && !cut:
			fn(string(bytes.TrimRight(b, "\r\n")))
		}
		cut = false
		if err != nil {
			return
		}
	}
}
