package tokenizer

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// benchSizes are the text sizes of the size benchmarks, 1 KB to 1 MB (20 KB is the size the issue names).
var benchSizes = []int{1 << 10, 10 << 10, 20 << 10, 100 << 10, 1 << 20}

// prose is n bytes of plain news prose.
func prose(n int) string {
	const para = "The city council approved the new budget on Tuesday after a long debate. " +
		"Residents said the 3.5% rise in fees, the first since 2019, would hit small shops hardest.\n\n"
	return strings.Repeat(para, n/len(para)+1)[:n]
}

// noSpaces is n bytes of random lowercase letters: one pre-tokenisation
// piece, the pathological case for byte-pair merging.
func noSpaces(n int) string {
	rng := rand.New(rand.NewPCG(7, 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + rng.IntN(26))
	}
	return string(b)
}

// BenchmarkTokenizer_CountSize counts tokens in texts from 1 KB to 1 MB:
// plain prose, one piece of random letters, and one piece of a single
// repeated letter (which merges into a long run of equal tokens).
func BenchmarkTokenizer_CountSize(b *testing.B) {
	kinds := []struct {
		name string
		text func(n int) string
	}{
		{"prose", prose},
		{"nospaces", noSpaces},
		{"oneletter", func(n int) string { return strings.Repeat("a", n) }},
	}
	tk := MustForModel("gpt-4o")
	for _, k := range kinds {
		for _, n := range benchSizes {
			text := k.text(n)
			b.Run(fmt.Sprintf("%s/%dKB", k.name, n>>10), func(b *testing.B) {
				b.SetBytes(int64(n))
				b.ReportAllocs()
				cpu := processCPU()
				for b.Loop() {
					tk.Count(text)
				}
				if cpu := processCPU() - cpu; cpu > 0 {
					b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
				}
			})
		}
	}
}
