print("waitroom-load")
