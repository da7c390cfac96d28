// Package playground holds TestPlaygroundApprovalStory, which drives the Teams adapter from Microsoft's own
// developer Teams client, the Microsoft 365 Agents Playground, in headless Chromium. The package has no code of
// its own: see README.md for how the Playground is driven and what the test proves.
package playground
