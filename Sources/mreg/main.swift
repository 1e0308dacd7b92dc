print("mreg")
