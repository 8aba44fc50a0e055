package tokenizer

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"hash/maphash"
	"math"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/dlclark/regexp2"
	"github.com/pkoukk/tiktoken-go-loader/assets"
)

// The encodings' published pre-tokenisation patterns: text is cut into
// pieces by these before byte-pair merging.
const (
	o200kPattern = `[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?` +
		`|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?` +
		`|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	cl100kPattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
)

// bpe is a byte-pair encoder kept compact: the token byte strings are one
// blob indexed by rank, and the rank of a byte string is found through an
// open-addressing table of ranks. For o200k_base this is about 5 MB, where
// tiktoken-go's maps (encoder, decoder, sorted token list) take about 25 MB.
type bpe struct {
	re    *regexp2.Regexp
	blob  []byte   // token bytes, in rank order
	off   []uint32 // token r is blob[off[r]:off[r+1]]
	table []uint32 // rank+1 at the slot of the token's hash; 0 is empty
	mask  uint64
	seed  maphash.Seed

	scratch sync.Pool // *encodeScratch
}

// encodeScratch is one call's reusable buffers.
type encodeScratch struct {
	piece []byte
	parts [][2]int
}

// loadBPE reads an encoding's rank file (lines of "base64-token rank",
// ranks 0..n-1) embedded by tiktoken-go-loader.
func loadBPE(file, pattern string) (*bpe, error) {
	re, err := regexp2.Compile(pattern, regexp2.None)
	if err != nil {
		return nil, fmt.Errorf("compiling the pattern: %w", err)
	}
	data, err := assets.Assets.ReadFile(file)
	if err != nil {
		return nil, err
	}
	n := bytes.Count(data, []byte("\n")) + 1
	b := &bpe{re: re, seed: maphash.MakeSeed(), off: make([]uint32, 0, n+1)}
	b.blob = make([]byte, 0, len(data)/2)
	b.off = append(b.off, 0)
	for line := range bytes.Lines(data) {
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			continue
		}
		tok, rankText, ok := bytes.Cut(line, []byte(" "))
		rank, err := strconv.Atoi(string(rankText))
		if !ok || err != nil || rank != len(b.off)-1 {
			return nil, fmt.Errorf("%s: line %d: want rank %d", file, len(b.off), len(b.off)-1)
		}
		start := len(b.blob)
		b.blob = append(b.blob, make([]byte, base64.StdEncoding.DecodedLen(len(tok)))...)
		k, err := base64.StdEncoding.Decode(b.blob[start:], tok)
		if err != nil {
			return nil, fmt.Errorf("%s: rank %d: %w", file, rank, err)
		}
		b.blob = b.blob[:start+k]
		b.off = append(b.off, uint32(len(b.blob)))
	}
	b.blob = bytes.Clone(b.blob) // drop the spare capacity
	b.off = append([]uint32(nil), b.off...)
	size := uint64(1)
	for size < 2*uint64(len(b.off)) {
		size <<= 1
	}
	b.table = make([]uint32, size)
	b.mask = size - 1
	for r := range len(b.off) - 1 {
		h := maphash.Bytes(b.seed, b.token(r)) & b.mask
		for b.table[h] != 0 {
			h = (h + 1) & b.mask
		}
		b.table[h] = uint32(r + 1)
	}
	return b, nil
}

func (b *bpe) token(r int) []byte { return b.blob[b.off[r]:b.off[r+1]] }

// vocab is the number of ordinary tokens.
func (b *bpe) vocab() int { return len(b.off) - 1 }

// rank returns the rank of a token's bytes, or -1.
func (b *bpe) rank(p []byte) int {
	h := maphash.Bytes(b.seed, p) & b.mask
	for {
		v := b.table[h]
		if v == 0 {
			return -1
		}
		if r := int(v - 1); bytes.Equal(b.token(r), p) {
			return r
		}
		h = (h + 1) & b.mask
	}
}

// encode calls emit with the rank of every token of text, in order, or, when
// emit is nil, only counts them. Special-token text is ordinary text.
func (b *bpe) encode(text string, emit func(rank int)) int {
	if text == "" {
		return 0
	}
	s, _ := b.scratch.Get().(*encodeScratch)
	if s == nil {
		s = &encodeScratch{}
	}
	defer b.scratch.Put(s)
	runes := []rune(text)
	n := 0
	m, _ := b.re.FindRunesMatch(runes)
	for m != nil {
		s.piece = s.piece[:0]
		for _, r := range runes[m.Index : m.Index+m.Length] {
			s.piece = utf8.AppendRune(s.piece, r)
		}
		if r := b.rank(s.piece); r >= 0 {
			n++
			if emit != nil {
				emit(r)
			}
		} else {
			n += b.merge(s, emit)
		}
		m, _ = b.re.FindNextMatch(m)
	}
	return n
}

// merge byte-pair encodes s.piece: adjacent parts are merged, lowest rank
// first, while their concatenation is a token. It returns the number of
// tokens and calls emit (when not nil) with each one's rank.
func (b *bpe) merge(s *encodeScratch, emit func(int)) int {
	piece := s.piece
	parts := s.parts[:0]
	for i := 0; i <= len(piece); i++ {
		parts = append(parts, [2]int{i, math.MaxInt})
	}
	// pairRank is the rank of parts[i..i+skip+2) merged into one, or -1.
	pairRank := func(i, skip int) int {
		if i+skip+2 < len(parts) {
			return b.rank(piece[parts[i][0]:parts[i+skip+2][0]])
		}
		return -1
	}
	for i := 0; i < len(parts)-2; i++ {
		if r := pairRank(i, 0); r >= 0 {
			parts[i][1] = r
		}
	}
	for len(parts) > 1 {
		minRank, minIdx := math.MaxInt, -1
		for i := 0; i < len(parts)-1; i++ {
			if parts[i][1] < minRank {
				minRank, minIdx = parts[i][1], i
			}
		}
		if minIdx < 0 {
			break
		}
		i := minIdx
		parts[i][1] = orMax(pairRank(i, 1))
		if i > 0 {
			parts[i-1][1] = orMax(pairRank(i-1, 1))
		}
		parts = append(parts[:i+1], parts[i+2:]...)
	}
	if emit != nil {
		for i := 0; i < len(parts)-1; i++ {
			emit(b.rank(piece[parts[i][0]:parts[i+1][0]]))
		}
	}
	s.parts = parts
	return len(parts) - 1
}

func orMax(r int) int {
	if r < 0 {
		return math.MaxInt
	}
	return r
}

// decode returns the bytes of tokens; unknown ids are skipped.
func (b *bpe) decode(toks []int) []byte {
	var out []byte
	for _, t := range toks {
		if t >= 0 && t < b.vocab() {
			out = append(out, b.token(t)...)
		}
	}
	return out
}
