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
	// maxLen is the longest token's length: longer byte strings are not
	// looked up (merging a long piece tries ever longer pairs).
	maxLen int

	scratch sync.Pool // *encodeScratch
}

// encodeScratch is one call's reusable buffers.
type encodeScratch struct {
	piece []byte
	parts [][2]int
	// mergeHeap's buffers
	next, prev, pairRank []int32
	heap                 []pairEntry
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
		b.maxLen = max(b.maxLen, k)
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
	if len(p) > b.maxLen {
		return -1
	}
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
	defer b.putScratch(s)
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

// smallPiece is the length up to which merge scans all pairs for the lowest
// rank at every step (quadratic, but with no set-up, the fastest for words);
// longer pieces go through mergeHeap, which is O(n log n).
const smallPiece = 128

// maxPooled is the largest piece whose buffers go back to the pool: one
// megabyte-long piece must not pin tens of megabytes for the process's life.
const maxPooled = 64 << 10

func (b *bpe) putScratch(s *encodeScratch) {
	if cap(s.piece) > maxPooled {
		return
	}
	b.scratch.Put(s)
}

// merge byte-pair encodes s.piece: adjacent parts are merged, lowest rank
// first (the leftmost on ties), while their concatenation is a token. It
// returns the number of tokens and calls emit (when not nil) with each one's
// rank.
func (b *bpe) merge(s *encodeScratch, emit func(int)) int {
	if len(s.piece) > smallPiece {
		return b.mergeHeap(s, emit)
	}
	return b.mergeScan(s, emit)
}

// mergeScan does what merge does by scanning all pairs for the lowest rank
// at every step: O(n²) for a piece of n bytes, fast for short ones.
func (b *bpe) mergeScan(s *encodeScratch, emit func(int)) int {
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

// mergeHeap does what merge does in O(n log n) for a piece of n bytes: the
// parts are a doubly linked list over the piece's bytes (part i starts at
// byte i; merged-away parts are unlinked) and the candidate pairs sit in a
// min-heap keyed by (rank, start). The heap is lazy: a pair's entry is pushed
// whenever its rank changes, and an entry popped that no longer matches its
// part's current pair rank is dropped. Since every live pair has an entry
// matching it, the first matching entry popped is the live pair of lowest
// rank, leftmost on ties: the same choice, step by step, as the scan in merge
// and as tiktoken's.
func (b *bpe) mergeHeap(s *encodeScratch, emit func(int)) int {
	piece := s.piece
	n := len(piece)
	s.next = grow(s.next, n)
	s.prev = grow(s.prev, n)
	s.pairRank = grow(s.pairRank, n)
	next, prev, pairRank := s.next, s.prev, s.pairRank
	h := pairHeap(s.heap[:0])
	// rankAt is the rank of part i merged with the part after it, or -1.
	rankAt := func(i int32) int32 {
		j := next[i]
		if j >= int32(n) {
			return -1
		}
		end := int32(n)
		if k := next[j]; k < int32(n) {
			end = k
		}
		return int32(b.rank(piece[i:end]))
	}
	for i := range int32(n) {
		next[i], prev[i] = i+1, i-1
	}
	for i := range int32(n) {
		pairRank[i] = rankAt(i)
		if pairRank[i] >= 0 {
			h = append(h, newPairEntry(pairRank[i], i))
		}
	}
	h.init()
	count := n
	for len(h) > 0 {
		e := h.pop()
		i := e.start()
		if pairRank[i] != e.rank() || next[i] >= int32(n) {
			continue // stale: i was merged into its left neighbour or its pair changed
		}
		// Merge i with the part after it.
		j := next[i]
		next[i] = next[j]
		if next[i] < int32(n) {
			prev[next[i]] = i
		}
		pairRank[j] = -1
		next[j] = int32(n) // j is gone: its entries are stale
		count--
		if pairRank[i] = rankAt(i); pairRank[i] >= 0 {
			h.push(newPairEntry(pairRank[i], i))
		}
		if p := prev[i]; p >= 0 {
			if pairRank[p] = rankAt(p); pairRank[p] >= 0 {
				h.push(newPairEntry(pairRank[p], p))
			}
		}
	}
	s.heap = h
	if emit != nil {
		for i := int32(0); i < int32(n); {
			end := next[i]
			emit(b.rank(piece[i:end]))
			i = end
		}
	}
	return count
}

// grow returns s resized to n elements, reusing its array when it can.
func grow(s []int32, n int) []int32 {
	if cap(s) < n {
		return make([]int32, n)
	}
	return s[:n]
}

// pairEntry is a candidate merge: the part starting at byte start with the
// part after it, whose concatenation is the token of rank rank. Packed in one
// word, rank high, entries order by rank then start with one comparison.
type pairEntry uint64

func newPairEntry(rank, start int32) pairEntry {
	return pairEntry(uint64(uint32(rank))<<32 | uint64(uint32(start)))
}

func (e pairEntry) rank() int32  { return int32(e >> 32) }
func (e pairEntry) start() int32 { return int32(uint32(e)) }

// pairHeap is a binary min-heap of pairEntry (container/heap's interface
// calls would cost a third of the merge time here).
type pairHeap []pairEntry

func (h pairHeap) init() {
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

func (h *pairHeap) push(e pairEntry) {
	*h = append(*h, e)
	s := *h
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if s[p] <= e {
			break
		}
		s[i] = s[p]
		i = p
	}
	s[i] = e
}

func (h *pairHeap) pop() pairEntry {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	*h = s[:last]
	if last > 0 {
		h.down(0)
	}
	return top
}

func (h pairHeap) down(i int) {
	e := h[i]
	for {
		l := 2*i + 1
		if l >= len(h) {
			break
		}
		m := l
		if r := l + 1; r < len(h) && h[r] < h[l] {
			m = r
		}
		if e <= h[m] {
			break
		}
		h[i] = h[m]
		i = m
	}
	h[i] = e
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
