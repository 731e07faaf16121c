{{ upper "Hello" }} {{ lower "Hello" }}
