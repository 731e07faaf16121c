{{ $nope }}
