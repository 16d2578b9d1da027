import GGTranscribe

TranscribeTool.main()
