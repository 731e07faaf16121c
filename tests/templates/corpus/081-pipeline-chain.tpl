{{ "  Mixed Case  " | trim | lower | printf "<%s>" }}
