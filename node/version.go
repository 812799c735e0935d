package node

// Version is the openpool release this code belongs to.
const Version = "0.1.0-dev"
