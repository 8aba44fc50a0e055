package provider

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"sync"

	"github.com/newsroom-dev/newsroom/model"
)

// The streamed answer is decoded here rather than by the OpenAI SDK's
// ssestream and apijson packages (which the provider used before it left
// the SDK): those build a full ChatCompletionChunk per chunk
// through reflection and gjson, with raw JSON metadata for every field, which
// is most of what a thousand concurrent streams allocate. This reader keeps
// one pooled line buffer per stream and decodes each chunk into the few
// fields newsroom uses.

// sseReaderSize is the size of a pooled line reader; longer lines are
// assembled in a growing buffer.
const sseReaderSize = 1 << 10

// maxSSEEvent bounds one event's data, like the OpenAI SDK's scanner limit.
const maxSSEEvent = 2 << 20

var (
	errSSETooLong = errors.New("provider: stream event too long")

	sseReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, sseReaderSize) }}
)

// sseDecoder reads text/event-stream events (data lines joined by "\n",
// dispatched on an empty line; comments and other fields are ignored).
type sseDecoder struct {
	r    *bufio.Reader
	data []byte // the current event's data, reused between events
	long []byte // a line longer than the reader's buffer
	err  error
}

func newSSEDecoder(body io.Reader) *sseDecoder {
	r := sseReaders.Get().(*bufio.Reader)
	r.Reset(body)
	return &sseDecoder{r: r}
}

// release returns the line reader to the pool; the decoder is unusable after.
func (d *sseDecoder) release() {
	if d.r != nil {
		d.r.Reset(nil)
		sseReaders.Put(d.r)
		d.r = nil
	}
}

// next returns the data of the next event, valid until the following call,
// or false at the end of the stream or on an error (see Err). A stream that
// ends in the middle of an event drops that event, as the OpenAI SDK does.
func (d *sseDecoder) next() ([]byte, bool) {
	if d.err != nil {
		return nil, false
	}
	d.data = d.data[:0]
	hasData := false
	for {
		line, err := d.line()
		if err != nil {
			if err != io.EOF {
				d.err = err
			}
			return nil, false
		}
		if len(line) == 0 {
			if hasData {
				// Drop the newline added after the last data line.
				return d.data[:len(d.data)-1], true
			}
			continue
		}
		name, value, _ := bytes.Cut(line, []byte(":"))
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
		if string(name) != "data" {
			continue // a comment, "event", "id" or "retry"
		}
		if len(d.data)+len(value) > maxSSEEvent {
			d.err = errSSETooLong
			return nil, false
		}
		d.data = append(d.data, value...)
		d.data = append(d.data, '\n')
		hasData = true
	}
}

// line returns the next line without its line ending ("\n" or "\r\n").
func (d *sseDecoder) line() ([]byte, error) {
	line, err := d.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		d.long = append(d.long[:0], line...)
		for err == bufio.ErrBufferFull {
			if len(d.long) > maxSSEEvent {
				return nil, errSSETooLong
			}
			line, err = d.r.ReadSlice('\n')
			d.long = append(d.long, line...)
		}
		line = d.long
	}
	if err != nil {
		// A last line without a newline is dropped with its event, as the
		// OpenAI SDK does; whether the answer is complete is decided by its
		// finish reason.
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// drain reads and discards what is left of the stream, at most limit
// bytes, so that the body ends at EOF.
func (d *sseDecoder) drain(limit int64) {
	_, _ = io.Copy(io.Discard, io.LimitReader(d.r, limit))
}

// drainLimit bounds what is read after the stream's [DONE].
const drainLimit = 4 << 10

// Err is the read error that ended the stream, nil at a clean end.
func (d *sseDecoder) Err() error { return d.err }

// streamChunk is the part of a chat.completion.chunk newsroom reads.
type streamChunk struct {
	ID      string `json:"id"`
	Model   string `json:"model"`
	Choices []struct {
		Index int `json:"index"`
		Delta struct {
			Content   string          `json:"content"`
			ToolCalls []toolCallDelta `json:"tool_calls"`
		} `json:"delta"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage *wireUsage `json:"usage"`
	// Error is set when the service reports an error inside the stream.
	Error json.RawMessage `json:"error"`
}

// reset clears c for the next chunk, keeping the choices' capacity.
func (c *streamChunk) reset() {
	c.ID, c.Model = "", ""
	// Decoding into a reused element keeps fields the next chunk omits or
	// sends as null, so the elements are zeroed first.
	clear(c.Choices[:cap(c.Choices)])
	c.Choices = c.Choices[:0]
	c.Usage = nil
	c.Error = c.Error[:0]
}

// streamErrorEvent is an error event the service sent inside the stream.
type streamErrorEvent struct{ data []byte }

func (e *streamErrorEvent) Error() string {
	return "provider: the service sent an error event in the stream"
}

// toolCallDelta is a piece of a streamed tool call
// (chatCompletionMessageToolCallChunk): the first piece of a call carries
// its index, id, type and name; the following ones carry fragments of its
// arguments, to be appended in order.
type toolCallDelta struct {
	Index    int    `json:"index"`
	ID       string `json:"id"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

// toolCallAssembler puts streamed tool calls together by their index.
type toolCallAssembler struct {
	byIndex []*assembling
}

type assembling struct {
	id, name string
	args     strings.Builder
}

func (a *toolCallAssembler) add(d toolCallDelta) {
	if d.Index < 0 || d.Index > 1024 {
		return // no service sends that many calls in one answer
	}
	for len(a.byIndex) <= d.Index {
		a.byIndex = append(a.byIndex, nil)
	}
	c := a.byIndex[d.Index]
	if c == nil {
		c = &assembling{}
		a.byIndex[d.Index] = c
	}
	if d.ID != "" {
		c.id = d.ID
	}
	if d.Function.Name != "" {
		c.name += d.Function.Name
	}
	c.args.WriteString(d.Function.Arguments)
}

// calls returns the assembled calls in index order (nil when there are none).
func (a *toolCallAssembler) calls() []model.ToolCall {
	var out []model.ToolCall
	for _, c := range a.byIndex {
		if c != nil {
			out = append(out, model.ToolCall{ID: c.id, Name: c.name, Arguments: c.args.String()})
		}
	}
	return out
}
