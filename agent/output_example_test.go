package agent_test

import (
	"context"
	"fmt"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/model/provider"
)

// Headlines is what the headline writer answers with.
type Headlines struct {
	Headline     string   `json:"headline" jsonschema:"the best headline"`
	Alternatives []string `json:"alternatives" jsonschema:"other headlines, best first"`
}

// An agent declares its answer as a Go type and gets the parsed value.
func ExampleParseOutput() {
	em, err := emulator.Start(emulator.Config{}, emulator.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer em.Close()
	client, err := provider.New(provider.Config{Endpoint: em.URL, Deployment: "gpt-4o", APIKey: "unused"})
	if err != nil {
		fmt.Println(err)
		return
	}
	writer, err := agent.NewAssistant(agent.Config{
		Name:         "Headline_Generator",
		SystemPrompt: "You are Headline_Generator. Write a headline and two alternatives.",
		Client:       client,
		Output:       agent.MustOutputFormat[Headlines]("headlines", "A headline and its alternatives."),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	msg, err := agent.Reply(context.Background(), writer, agent.Turn{History: []agent.Message{{Source: agent.SourceUser,
		Content: "Facts: The bridge reopened on Monday. Repairs took two years."}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	h, err := agent.ParseOutput[Headlines](msg)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(h.Headline)
	fmt.Println(len(h.Alternatives), "alternatives")
	// Output:
	// The Bridge Reopened
	// 2 alternatives
}
