module node-attestor.local/tools/pause

go 1.24
