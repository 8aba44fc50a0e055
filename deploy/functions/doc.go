// Package functions holds newsroom's Azure Functions app: a custom handler
// (host.json runs `newsroom functions`), the poll-feeds timer and the
// assignment queue trigger, and the ARM template of a Flex Consumption
// function app with a managed identity (functionapp.json). The package has
// no code; its tests check the files against each other and the binary.
package functions
