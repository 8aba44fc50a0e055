// Package tokenizer counts and splits text into the tokens OpenAI models see,
// using the real cl100k_base and o200k_base byte-pair encodings embedded in
// the binary (no download at run time).
//
// The rank files are those embedded by github.com/pkoukk/tiktoken-go-loader;
// the encoder is this package's own compact byte-pair encoder (see bpe.go),
// which gives the same tokens as github.com/pkoukk/tiktoken-go (the tests
// compare them) in a fifth of its memory.
package tokenizer

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"
)

// Encoding names.
const (
	O200kBase  = "o200k_base"
	CL100kBase = "cl100k_base"
)

// ErrEncoding is wrapped by errors loading an encoding.
var ErrEncoding = errors.New("tokenizer: cannot load encoding")

// Tokenizer counts and splits text for one encoding. It is safe for
// concurrent use.
type Tokenizer struct {
	encoding string
	bpe      *bpe
}

var (
	// encoders caches one *Tokenizer per encoding: building one parses a
	// multi-megabyte rank file, so it must happen once per process.
	// This is a process-wide cache of immutable values, not mutable state.
	encodersMu sync.Mutex
	encoders   = map[string]*Tokenizer{}
)

// EncodingForModel returns the encoding a model name uses: cl100k_base for
// the GPT-4 and GPT-3.5 families, o200k_base for GPT-4o, GPT-4.1, GPT-5, the
// o-series and every name it does not know (current models all use it).
func EncodingForModel(name string) string {
	n := strings.ToLower(strings.TrimSpace(name))
	switch {
	case strings.HasPrefix(n, "gpt-4o"), strings.HasPrefix(n, "gpt-4.1"), strings.HasPrefix(n, "gpt-4.5"):
		return O200kBase
	case strings.HasPrefix(n, "gpt-4"), strings.HasPrefix(n, "gpt-35"), strings.HasPrefix(n, "gpt-3.5"):
		return CL100kBase
	default:
		return O200kBase
	}
}

// ForModel returns the (shared, cached) tokenizer for a model or Azure
// deployment name. See EncodingForModel for the mapping.
func ForModel(name string) (*Tokenizer, error) {
	return ForEncoding(EncodingForModel(name))
}

// ForEncoding returns the (shared, cached) tokenizer for an encoding name,
// O200kBase or CL100kBase.
func ForEncoding(encoding string) (*Tokenizer, error) {
	if encoding != O200kBase && encoding != CL100kBase {
		return nil, fmt.Errorf("%w: unknown encoding %q", ErrEncoding, encoding)
	}
	encodersMu.Lock()
	defer encodersMu.Unlock()
	if t, ok := encoders[encoding]; ok {
		return t, nil
	}
	file, pattern := "o200k_base.tiktoken", o200kPattern
	if encoding == CL100kBase {
		file, pattern = "cl100k_base.tiktoken", cl100kPattern
	}
	b, err := loadBPE(file, pattern)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrEncoding, encoding, err)
	}
	t := &Tokenizer{encoding: encoding, bpe: b}
	encoders[encoding] = t
	return t, nil
}

// MustForModel is ForModel that panics on error; the encodings are embedded,
// so an error means a broken build.
func MustForModel(name string) *Tokenizer {
	t, err := ForModel(name)
	if err != nil {
		panic(err)
	}
	return t
}

// Encoding returns the encoding's name.
func (t *Tokenizer) Encoding() string { return t.encoding }

// Tokens returns the token ids of text. Special-token text such as
// "<|endoftext|>" is encoded as ordinary text, as the service does for
// message content.
func (t *Tokenizer) Tokens(text string) []int {
	if text == "" {
		return nil
	}
	var toks []int
	t.bpe.encode(text, func(r int) { toks = append(toks, r) })
	return toks
}

// Count returns the number of tokens in text.
func (t *Tokenizer) Count(text string) int {
	return t.bpe.encode(text, nil)
}

// Split cuts text into its token pieces, in order, for streaming it the way
// the service does. Concatenated, the pieces give back text exactly. A piece
// is never a partial UTF-8 sequence: tokens that split a character are
// joined, so a piece may hold more than one token.
func (t *Tokenizer) Split(text string) []string {
	toks := t.Tokens(text)
	return t.pieces(toks)
}

// Truncate returns the first max tokens of text and whether text was longer.
// A max of zero or less means no limit.
func (t *Tokenizer) Truncate(text string, max int) (string, bool) {
	if max <= 0 {
		return text, false
	}
	toks := t.Tokens(text)
	if len(toks) <= max {
		return text, false
	}
	return strings.ToValidUTF8(string(t.bpe.decode(toks[:max])), ""), true
}

func (t *Tokenizer) pieces(toks []int) []string {
	out := make([]string, 0, len(toks))
	var pending []byte
	for _, tok := range toks {
		b := t.bpe.token(tok)
		if len(pending) == 0 && utf8.Valid(b) {
			out = append(out, string(b))
			continue
		}
		pending = append(pending, b...)
		if utf8.Valid(pending) {
			out = append(out, string(pending))
			pending = pending[:0]
		}
	}
	if len(pending) > 0 {
		out = append(out, string(pending))
	}
	return out
}
