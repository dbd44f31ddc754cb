package node

// SetReadHook sets the hook every connection's reader calls with each
// message it reads (nil: none), for tests that inject a panic; it returns
// a function that restores the previous hook.
func SetReadHook(f func(data []byte)) (restore func()) {
	var p *func([]byte)
	if f != nil {
		p = &f
	}
	old := readHook.Swap(p)
	return func() { readHook.Store(old) }
}
