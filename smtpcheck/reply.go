package smtpcheck

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/blprobe/blprobe/internal/textsafe"
)

// Caps applied to what a server sends, so that a hostile or broken server
// cannot make the probe use unbounded memory.
const (
	// MaxLineLen is the longest reply line accepted, CRLF included. RFC 5321
	// §4.5.3.1.5 allows 512 octets; real servers stay far below 4 KiB.
	MaxLineLen = 4096
	// MaxReplyLines caps the lines of one multi-line reply.
	MaxReplyLines = 100
)

// ErrReplySyntax is wrapped by the errors ReadReply returns for input that is
// not an SMTP reply (garbage, mixed codes, overlong lines, too many lines).
var ErrReplySyntax = errors.New("malformed SMTP reply")

// ReadReply reads one SMTP reply (RFC 5321 §4.2): lines "code-text" followed
// by a last line "code SP text", the same code on every line. A bare code
// line ("250") or a missing SP ("250ok") is tolerated as a last line. The
// RFC 3463 enhanced status code is taken from the first line that has one
// and stripped from every line that repeats it (Gmail repeats it, GMX sends
// none). Line endings may be CRLF or a bare LF.
//
// It returns the reply, the raw lines read (cleaned of control characters,
// also on error, for the transcript) and an error wrapping ErrReplySyntax for
// bad input, or the reader's error (io.EOF, a timeout) when the reply ended
// early. At most MaxLineLen bytes per line and MaxReplyLines lines are read.
func ReadReply(r *bufio.Reader) (Reply, []string, error) {
	var (
		rep   Reply
		lines []string
		texts []string
	)
	for {
		if len(lines) >= MaxReplyLines {
			return Reply{}, lines, fmt.Errorf("%w: more than %d lines", ErrReplySyntax, MaxReplyLines)
		}
		raw, err := readLine(r)
		if raw != nil || err == nil {
			lines = append(lines, capLine(textsafe.Clean(string(raw))))
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
				if len(lines) == 0 && raw == nil {
					err = io.EOF
				}
			}
			return Reply{}, lines, err
		}
		code, last, text, perr := parseLine(raw)
		if perr != nil {
			return Reply{}, lines, perr
		}
		if rep.Code == 0 {
			rep.Code = code
		} else if code != rep.Code {
			return Reply{}, lines, fmt.Errorf("%w: code %d in a reply that began with %d", ErrReplySyntax, code, rep.Code)
		}
		if enh, rest, ok := splitEnhanced(text, code); ok {
			if rep.Enhanced == "" {
				rep.Enhanced = enh
			}
			if enh == rep.Enhanced {
				text = rest
			}
		}
		texts = append(texts, textsafe.Clean(text))
		if last {
			rep.Text = strings.Join(texts, "\n")
			return rep, lines, nil
		}
	}
}

// readLine reads up to LF, at most MaxLineLen bytes, and returns the line
// without its line ending. A line longer than MaxLineLen is an error; the
// rest of it is not read.
func readLine(r *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if len(line)+len(chunk) > MaxLineLen {
			return nil, fmt.Errorf("%w: line longer than %d bytes", ErrReplySyntax, MaxLineLen)
		}
		line = append(line, chunk...)
		switch {
		case err == nil:
			line = bytes.TrimSuffix(line[:len(line)-1], []byte("\r"))
			return line, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			if len(line) == 0 {
				return nil, err
			}
			return line, err // partial line before EOF or timeout
		}
	}
}

// parseLine splits one reply line into code, last-line flag and text.
func parseLine(b []byte) (code int, last bool, text string, err error) {
	if len(b) < 3 || b[0] < '2' || b[0] > '5' || b[1] < '0' || b[1] > '5' || b[2] < '0' || b[2] > '9' {
		return 0, false, "", fmt.Errorf("%w: line %q does not start with a reply code", ErrReplySyntax, shorten(string(b), 40))
	}
	code = int(b[0]-'0')*100 + int(b[1]-'0')*10 + int(b[2]-'0')
	switch {
	case len(b) == 3:
		return code, true, "", nil
	case b[3] == '-':
		return code, false, string(b[4:]), nil
	case b[3] == ' ':
		return code, true, string(b[4:]), nil
	default: // missing SP ("250ok"): tolerated as a last line
		return code, true, string(b[3:]), nil
	}
}

// splitEnhanced recognises an RFC 3463 enhanced status code at the start of
// text ("class.subject.detail", class matching the reply code's first digit,
// RFC 2034 §4) and returns it and the remaining text.
func splitEnhanced(text string, code int) (enh, rest string, ok bool) {
	if len(text) < 5 || int(text[0]-'0') != code/100 || text[1] != '.' {
		return "", text, false
	}
	i := 2
	n := 0
	for i < len(text) && text[i] >= '0' && text[i] <= '9' && n < 3 {
		i, n = i+1, n+1
	}
	if n == 0 || i >= len(text) || text[i] != '.' {
		return "", text, false
	}
	i++
	n = 0
	for i < len(text) && text[i] >= '0' && text[i] <= '9' && n < 3 {
		i, n = i+1, n+1
	}
	if n == 0 || (i < len(text) && text[i] != ' ') {
		return "", text, false
	}
	return text[:i], strings.TrimPrefix(text[i:], " "), true
}

// maxTranscriptLine caps one transcript line.
const maxTranscriptLine = 1000

func capLine(s string) string { return shorten(s, maxTranscriptLine) }

// shorten cuts s to at most n bytes without splitting a UTF-8 sequence.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
