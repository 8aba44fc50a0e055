package tokenizer

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/pkoukk/tiktoken-go"
	tiktokenloader "github.com/pkoukk/tiktoken-go-loader"
)

// TestTokens_MatchTiktokenGo compares this package's encoder with
// tiktoken-go's on fixed texts and on random ones mixing scripts, digits,
// punctuation, contractions, whitespace runs and invalid UTF-8.
func TestTokens_MatchTiktokenGo(t *testing.T) {
	tiktoken.SetBpeLoader(tiktokenloader.NewOfflineLoader())
	texts := []string{
		"hello world",
		"The mayor said the bridge reopens on Monday.\n\nTraffic will resume at 6 a.m.",
		"Café 東京 🎉 naïve — “quotes”",
		"They'll say it's the CEO's call; we'd've ALSO'VE 'S 'll",
		"   leading spaces\t\ttabs\r\n\r\nwindows lines   \n  trailing   ",
		"1234567890 3.14159 1,000,000 +44 (0)20 7946 0958",
		"<|endoftext|> is ordinary text here <|fim_prefix|>",
		"https://example.com/a/b?c=d&e=f#g //comment /* block */",
		"Supercalifragilisticexpialidocious antidisestablishmentarianism",
		"Ελληνικά Русский текст العربية हिन्दी 한국어 ภาษาไทย",
		"e\u0301 combining marks a\u0308 \u200d zero width",
		"\xff\xfe invalid \xc3 utf-8",
		strings.Repeat("ab", 300) + strings.Repeat("🙂", 50),
	}
	// Pieces longer than smallPiece go through mergeHeap: long runs of one
	// letter, of random letters, of mixed case, of punctuation, of spaces, of
	// CJK and emoji, a base64 blob and text with rare spaces.
	texts = append(texts,
		strings.Repeat("a", 1000),
		noSpaces(1500),
		strings.Repeat("abc", 400)+strings.Repeat("ABC", 100),
		strings.Repeat("!", 700)+strings.Repeat("=-", 300),
		"x"+strings.Repeat(" ", 600)+"y"+strings.Repeat("\n", 200),
		strings.Repeat("東京日本語", 80),
		strings.Repeat("🎉🙂", 150),
	)
	prng := rand.New(rand.NewPCG(3, 4))
	for _, alpha := range []string{
		"aAbBcCzZ",
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
		"!@#$%^&*()_+-=[]{};:,.<>/?|~`",
		"etaoinshrdlu etaoinshrdlu",
		"ßøŁł東京한국πΩЖжअआ\u0301",
	} {
		r := []rune(alpha)
		for range 3 {
			var b strings.Builder
			for range 200 + prng.IntN(600) {
				b.WriteRune(r[prng.IntN(len(r))])
			}
			texts = append(texts, b.String())
		}
	}
	alphabet := []rune("aAbBzZéÉßøŁł東京日本語한국ßπΩЖжअआ0123456789 \t\n\r.,;:!?'\"-—()[]{}<>/\\@#$%^&*_+=|~`’“”…🎉🙂\u0301\u200d")
	rng := rand.New(rand.NewPCG(1, 2))
	for range 400 {
		n := 1 + rng.IntN(60)
		var b strings.Builder
		for range n {
			b.WriteRune(alphabet[rng.IntN(len(alphabet))])
		}
		texts = append(texts, b.String())
	}
	for _, enc := range []string{O200kBase, CL100kBase} {
		t.Run(enc, func(t *testing.T) {
			ref, err := tiktoken.GetEncoding(enc)
			if err != nil {
				t.Fatal(err)
			}
			tk, err := ForEncoding(enc)
			if err != nil {
				t.Fatal(err)
			}
			bad := 0
			for _, text := range texts {
				want := ref.EncodeOrdinary(text)
				if len(want) == 0 {
					want = nil
				}
				if diff := cmp.Diff(want, tk.Tokens(text)); diff != "" {
					t.Errorf("Tokens(%q) (-tiktoken-go +ours):\n%s", text, diff)
					bad++
				}
				if got := tk.Count(text); got != len(want) {
					t.Errorf("Count(%q) = %d, want %d", text, got, len(want))
				}
				if bad > 5 {
					t.Fatal("too many differences")
				}
			}
		})
	}
}

// TestMergeHeap_MatchesScan checks the two merge algorithms against each
// other on pieces of every length up to 400 bytes (mergeHeap normally takes
// only the long ones), over small alphabets so that equal ranks compete.
func TestMergeHeap_MatchesScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, enc := range []string{O200kBase, CL100kBase} {
		tk, err := ForEncoding(enc)
		if err != nil {
			t.Fatal(err)
		}
		for _, alpha := range []string{"a", "ab", "abc ", "aAbB12", "the quick brown fox", "\xe6\x9d\xb1\xff"} {
			for n := 1; n <= 400; n += 1 + n/8 {
				piece := make([]byte, n)
				for i := range piece {
					piece[i] = alpha[rng.IntN(len(alpha))]
				}
				var scan, heap []int
				s := &encodeScratch{piece: piece}
				ns := tk.bpe.mergeScan(s, func(r int) { scan = append(scan, r) })
				nh := tk.bpe.mergeHeap(s, func(r int) { heap = append(heap, r) })
				if diff := cmp.Diff(scan, heap); diff != "" || ns != nh || ns != len(scan) {
					t.Fatalf("%s: piece %q: counts %d (scan), %d (heap); tokens (-scan +heap):\n%s", enc, piece, ns, nh, diff)
				}
			}
		}
	}
}
