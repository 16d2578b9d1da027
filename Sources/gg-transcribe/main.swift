TranscribeTool.main()
