import GGScenes

ScenesTool.main()
