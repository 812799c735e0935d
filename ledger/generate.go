package ledger

// Regenerate the contract artifacts (needs node and npm) and the Go bindings.
//go:generate sh -c "cd contracts && npm ci --no-audit --no-fund --silent && node compile.js"
//go:generate go run ./internal/genbindings -build contracts/build -out bindings
