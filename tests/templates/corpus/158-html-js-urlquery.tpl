{{ html "<a href='x'>&\"</a>" }} {{ js "it's \"q\" <b> =" }} {{ urlquery "a b&c=d/é" }}
