package main

import "golang.org/x/term"

func isTerm(fd uintptr) bool { return term.IsTerminal(int(fd)) }
