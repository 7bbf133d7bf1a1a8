print(Allocator.summary)
