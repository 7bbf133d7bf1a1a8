print("waitroomd")
