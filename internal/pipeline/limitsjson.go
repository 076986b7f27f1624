package pipeline

// CheckJSONLimits checks data, the JSON document name, against lim before
// a decoder reads it: its size, how deep arrays and objects nest, how many
// values it holds and how long a number is. Strings are skipped whole. The
// error is a *LimitError with the line and column.
func CheckJSONLimits(name string, data []byte, lim Limits) error {
	lim = lim.orDefault()
	if int64(len(data)) > lim.MaxBytes {
		return SizeError(name, int64(len(data)), lim.MaxBytes)
	}
	s := &yamlScan{name: name, data: data, lim: lim, line: 1} // for fail and node
	for s.i < len(data) {
		switch c := data[s.i]; {
		case c == '\n':
			s.newline()
			continue
		case c == '"':
			if err := s.node(); err != nil {
				return err
			}
			s.jsonString()
			continue
		case c == '[' || c == '{':
			s.flow++
			if err := s.checkDepth(); err != nil {
				return err
			}
			if err := s.node(); err != nil {
				return err
			}
		case c == ']' || c == '}':
			s.flow--
		case c == '-' || (c >= '0' && c <= '9'):
			if err := s.jsonNumber(); err != nil {
				return err
			}
			continue
		case c >= 'a' && c <= 'z': // true, false, null
			if err := s.node(); err != nil {
				return err
			}
			for s.i < len(data) && data[s.i] >= 'a' && data[s.i] <= 'z' {
				s.i++
			}
			continue
		}
		s.i++
	}
	return nil
}

// jsonString moves past the string that starts at s.i.
func (s *yamlScan) jsonString() {
	for s.i++; s.i < len(s.data); s.i++ {
		switch s.data[s.i] {
		case '\\':
			s.i++
		case '"':
			s.i++
			return
		}
	}
}

// jsonNumber moves past the number that starts at s.i, refusing a long one.
func (s *yamlScan) jsonNumber() error {
	start := s.i
	for s.i < len(s.data) && isNumberByte(s.data[s.i]) {
		s.i++
	}
	if n := s.i - start; n > s.lim.MaxNumber {
		return s.fail(start, "number", int64(s.lim.MaxNumber),
			"a number of %d characters, over the limit of %d", n, s.lim.MaxNumber)
	}
	return s.node()
}

func isNumberByte(c byte) bool {
	return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}
