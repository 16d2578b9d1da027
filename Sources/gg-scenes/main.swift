ScenesTool.main()
