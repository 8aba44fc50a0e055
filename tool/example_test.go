package tool_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/newsroom-dev/newsroom/tool"
)

// WordCountArgs are the arguments of the word_count tool; the JSON Schema
// the model sees is derived from the struct.
type WordCountArgs struct {
	Text string `json:"text" jsonschema:"the text whose words to count"`
}

// A typed Go function becomes a tool in a few lines; give it to an agent
// with agent.Config{Tools: []tool.Tool{wc}}.
func ExampleNewFunc() {
	wc, err := tool.NewFunc("word_count", "Count the words of a text.",
		func(_ context.Context, a WordCountArgs) (tool.Result, error) {
			return tool.Result{Content: fmt.Sprint(len(strings.Fields(a.Text)))}, nil
		})
	if err != nil {
		panic(err)
	}
	fmt.Println(string(wc.Definition().Parameters))
	r, err := wc.Call(context.Background(), []byte(`{"text":"the council met on Tuesday"}`))
	fmt.Println(r.Content, err)
	_, err = wc.Call(context.Background(), []byte(`{"text":42}`))
	fmt.Println(err != nil)
	// Output:
	// {"type":"object","properties":{"text":{"type":"string","description":"the text whose words to count"}},"required":["text"],"additionalProperties":false}
	// 5 <nil>
	// true
}
